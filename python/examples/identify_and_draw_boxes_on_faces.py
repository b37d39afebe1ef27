"""Name the people in a photo and draw a labelled box around each face (Pillow).
Written against face_recognition's API: only the import line is facenet-c's.
Usage (in a folder holding obama.jpg, biden.jpg and two_people.jpg):
    identify_and_draw_boxes_on_faces.py [OUT.jpg]"""
import sys

from PIL import Image, ImageDraw

import facenet_c.compat.face_recognition as face_recognition

known_face_encodings = [
    face_recognition.face_encodings(face_recognition.load_image_file("obama.jpg"))[0],
    face_recognition.face_encodings(face_recognition.load_image_file("biden.jpg"))[0],
]
known_face_names = ["Barack Obama", "Joe Biden"]

unknown_image = face_recognition.load_image_file("two_people.jpg")
face_locations = face_recognition.face_locations(unknown_image)
face_encodings = face_recognition.face_encodings(unknown_image, face_locations)

pil_image = Image.fromarray(unknown_image)
draw = ImageDraw.Draw(pil_image)
for (top, right, bottom, left), face_encoding in zip(face_locations, face_encodings):
    matches = face_recognition.compare_faces(known_face_encodings, face_encoding)
    name = "Unknown"
    if True in matches:
        name = known_face_names[matches.index(True)]
    print("{} at top {}, right {}, bottom {}, left {}".format(name, top, right, bottom, left))
    draw.rectangle(((left, top), (right, bottom)), outline=(0, 0, 255))
    _, _, text_width, text_height = draw.textbbox((0, 0), name)
    draw.rectangle(((left, bottom - text_height - 10), (right, bottom)), fill=(0, 0, 255), outline=(0, 0, 255))
    draw.text((left + 6, bottom - text_height - 5), name, fill=(255, 255, 255, 255))
del draw
pil_image.save(sys.argv[1] if len(sys.argv) > 1 else "image_with_boxes.jpg")
