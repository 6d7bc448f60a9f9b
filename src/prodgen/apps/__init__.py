"""The shop's jobs built on the models: presentation (background), variations, enhance, fill, augment, personalise."""
