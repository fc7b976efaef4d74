"""`python app.py`: the web app (a Gradio chat over the articles), also the Hugging Face
Space's entry point. The app lives in the package rag/ui/."""

from rag.ui import main

if __name__ == "__main__":
    main()
