from fedspec.cli import main

main()
