{ port: 8080 }
