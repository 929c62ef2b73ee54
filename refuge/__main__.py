from refuge._launch import main

main()
