"""Integration tests: the CLI on tiny real models (helpers: cli_support, report_browser, ...)."""
