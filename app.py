"""`python app.py`: the web app (a Gradio chat over the articles), also the Hugging Face
Space's entry point. Everything lives in rag/ui.py."""

from rag.ui import main

if __name__ == "__main__":
    main()
