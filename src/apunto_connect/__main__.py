"""``python -m apunto_connect`` runs the command line."""

from .cli import main

raise SystemExit(main())
