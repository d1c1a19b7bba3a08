"""Score the day's records: here, say which run this is."""

import sys

print("scoring with", " ".join(sys.argv[1:]))
