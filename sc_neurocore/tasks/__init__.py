"""Training tasks and what trains on them: data sets, encoders, losses, loops."""
