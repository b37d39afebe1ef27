"""Drop-in layers mirroring face_recognition and facenet-pytorch."""
