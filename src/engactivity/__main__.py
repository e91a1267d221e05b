from engactivity.cli import main

main()
