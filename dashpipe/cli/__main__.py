from dashpipe.cli.main import main

main()
