"""Lambda: the WebSocket API's $connect, $disconnect and $default routes."""
