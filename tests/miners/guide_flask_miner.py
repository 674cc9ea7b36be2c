"""The miner guide's Flask example (seed/miner-guide.md, "Example Model Implementation").

As written in the guide, with two changes so it runs here: the Hugging Face model is a
trivial deterministic generator (no download), and host and port come from ``HOST`` and
``PORT`` (the guide hard-codes 0.0.0.0:3000). Response shapes, the catch-all 500 error
handling and the hard-coded ``'uptime': '0h 0m 0s'`` are the guide's.

Run: ``PORT=3005 HOST=127.0.0.1 python tests/miners/guide_flask_miner.py``
"""

# api/server.py
import os
import time

from flask import Flask, jsonify, request

app = Flask(__name__)


class TrivialModel:
    """Stands in for AutoModelForCausalLM: echoes the prompt's words, deterministically.

    It fails where the guide's tokenizer/model would: a prompt that is not a string, a
    max_tokens that is not an integer.
    """

    def generate(self, prompt, max_tokens, temperature):
        words = prompt.split() or ["..."]
        return " ".join(words[i % len(words)] for i in range(max_tokens))


# Load model (example with Hugging Face)
model_name = os.getenv("MODEL_NAME", "microsoft/DialoGPT-medium")
model = TrivialModel()


@app.route("/api/chat", methods=["POST"])
def chat():
    try:
        data = request.get_json()
        prompt = data.get("prompt", "")
        temperature = data.get("temperature", 0.7)
        max_tokens = data.get("max_tokens", 100)

        start_time = time.time()

        # Tokenize and generate
        response = model.generate(prompt, max_tokens, temperature).strip()

        processing_time = time.time() - start_time

        return jsonify(
            {
                "response": response,
                "model": model_name,
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "processing_time": round(processing_time, 2),
            }
        )

    except Exception as e:
        return jsonify({"error": str(e)}), 500


@app.route("/health", methods=["GET"])
def health():
    return jsonify(
        {
            "status": "healthy",
            "model_loaded": model is not None,
            "uptime": "0h 0m 0s",  # Implement actual uptime tracking
        }
    )


@app.route("/info", methods=["GET"])
def info():
    return jsonify(
        {
            "model_name": model_name,
            "model_type": "llm",
            "version": "1.0.0",
            "capabilities": ["text-generation"],
            "max_context_length": 1024,
        }
    )


if __name__ == "__main__":
    app.run(host=os.getenv("HOST", "0.0.0.0"), port=int(os.getenv("PORT", "3000")))
