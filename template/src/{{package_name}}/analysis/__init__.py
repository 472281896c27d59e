"""Pictures of a trained model: attention maps, activation histograms, training curves, a report."""
