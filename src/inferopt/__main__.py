from inferopt.cli.main import main

main()
