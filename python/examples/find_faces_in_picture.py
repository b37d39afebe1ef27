"""Find every face in a photo and save each one as its own image.
Written against face_recognition's API: only the import line is facenet-c's.
Usage: find_faces_in_picture.py [PHOTO] [OUT_DIR]"""
import os
import sys

from PIL import Image

import facenet_c.compat.face_recognition as face_recognition

photo = sys.argv[1] if len(sys.argv) > 1 else "two_people.jpg"
out_dir = sys.argv[2] if len(sys.argv) > 2 else "."

image = face_recognition.load_image_file(photo)
face_locations = face_recognition.face_locations(image)
print("I found {} face(s) in this photograph.".format(len(face_locations)))

for i, (top, right, bottom, left) in enumerate(face_locations):
    print("A face is located at pixel location Top: {}, Left: {}, Bottom: {}, Right: {}".format(top, left, bottom, right))
    face_image = image[top:bottom, left:right]
    Image.fromarray(face_image).save(os.path.join(out_dir, "face_{}.png".format(i)))
