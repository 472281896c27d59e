// Keep a run's output scrolled to its newest lines, also after each live refresh.
function followLogs() {
  document.querySelectorAll("pre.log").forEach((log) => { log.scrollTop = log.scrollHeight; });
}
document.addEventListener("DOMContentLoaded", followLogs);
document.addEventListener("htmx:afterSettle", followLogs);
