from agentapp.cli import main

raise SystemExit(main())
