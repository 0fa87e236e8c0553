from agentapp.entry import main

raise SystemExit(main())
