"""Built-in execution paths; each module is a plugin that turns any spec into a callable."""
