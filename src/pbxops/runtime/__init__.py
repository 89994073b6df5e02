"""Process-level plumbing shared by the worker and the CLI: settings, logging, Temporal client."""
