"""``python -m validation [--quick] [--case NAME] [--list]``: see :mod:`validation.runner`."""

from .runner import main

raise SystemExit(main())
