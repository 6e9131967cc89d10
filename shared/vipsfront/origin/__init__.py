"""origin"""
