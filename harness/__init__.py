"""What tests/ and bench/ both use: fresh databases, real server processes, the crash load.

Neither imports the other; both import this. Not part of the installed package.
"""
