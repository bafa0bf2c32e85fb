"""The regulator's cockpit: dashboard queries (selectors), charts, views, urls, template tags."""
