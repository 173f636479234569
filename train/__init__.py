"""tooljudge.train"""
