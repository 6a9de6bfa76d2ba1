from scale.cli.main import main

main()
