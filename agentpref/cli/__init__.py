"""`agentpref`, the command line: the group and its start-here help (main), what every command
shares (common, progress), and one module per command group."""
