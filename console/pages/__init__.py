"""One module per console page. Each declares ``PAGE`` (a :class:`console.web.Page`: its slug,
title, roles, order in the navigation) and ``ROUTES`` (paths relative to /console); the app
finds them by name (console/app.py). A page's messages are registered in its own module
(``console.i18n.messages``), its templates are ``console/templates/<slug>*.html``."""
