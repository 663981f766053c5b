"""Dates and periods the way teachers write them (parse → decide → ask back in a form)."""
