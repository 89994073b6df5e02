from pbxops.cli.app import main

main()
