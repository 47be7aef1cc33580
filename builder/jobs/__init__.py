"""One module per subcommand job; `builder.cli` only parses arguments and renders results."""
