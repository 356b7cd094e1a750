"""``python -m kmslib.course [FOLDER]``: the same as ``kmslib-course`` (see :mod:`kmslib.course.cli`)."""

from kmslib.course.cli import main

raise SystemExit(main())
