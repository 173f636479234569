"""tooljudge.data_prep"""
