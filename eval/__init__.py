"""tooljudge.eval"""
