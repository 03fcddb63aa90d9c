import streamlit as st

st.set_page_config(page_title="Clockwork Lab", layout="wide")
st.title("Clockwork Lab")
st.write("The app is being built; see README.md for the command line.")
