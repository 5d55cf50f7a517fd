import sys

if len(sys.argv) > 1 and sys.argv[1] == "--alive":
    # The exec probe: nothing beyond the standard library (workers/probe.py).
    from workers.probe import main as probe

    sys.exit(probe(sys.argv[1:]))

from workers.main import main

sys.exit(main())
