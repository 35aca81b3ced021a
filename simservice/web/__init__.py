"""The local web page (``simservice-app``): planners, finance officers and trainers use simservice, no command line.

Every result the page shows is the output of a ``simservice`` command that it runs in a process of its own and
shows to the user, so the page and the command line can never disagree (``commands.py`` builds the commands,
``jobs.py`` runs them and keeps their files, ``views/`` holds one module a page, ``home.py`` is Streamlit's script).
"""
