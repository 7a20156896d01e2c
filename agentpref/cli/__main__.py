from agentpref.cli.main import main

main()
