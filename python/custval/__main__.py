from custval.cli import main

raise SystemExit(main())
