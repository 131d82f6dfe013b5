from jembatan.cli import main

main()
