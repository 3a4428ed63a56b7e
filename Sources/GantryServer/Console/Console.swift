/// What `/` serves until the web console lands (issue 5).
enum Console {
    static let placeholder = """
        <!doctype html><html lang="en"><head><meta charset="utf-8"><title>Gantry</title></head>
        <body><h1>Gantry</h1><p>The API is served under <a href="/api/openapi.yaml">/api</a>.</p></body></html>
        """
}
