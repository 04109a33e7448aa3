from dropscribe.cli import main

raise SystemExit(main())
