"""HTML pages: server-rendered, working without JavaScript."""
