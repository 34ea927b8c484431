"""``schedtui serve``: the console in a browser (textual-serve), behind an access check.

``access`` decides who may open the page (pure functions, no web framework); ``server``
is the textual-serve server that applies it and starts one console per browser session.
"""
