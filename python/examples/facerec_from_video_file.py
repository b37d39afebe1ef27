"""Recognise two known people in a video file and write an annotated copy (OpenCV).
Written against face_recognition's API: only the import line is facenet-c's.
Usage (in a folder holding short_hamilton_clip.mp4, lin-manuel-miranda.png and
alex-lacamoire.png): facerec_from_video_file.py [MAX_FRAMES]"""
import sys

import cv2

import facenet_c.compat.face_recognition as face_recognition

max_frames = int(sys.argv[1]) if len(sys.argv) > 1 else None
input_movie = cv2.VideoCapture("short_hamilton_clip.mp4")
length = int(input_movie.get(cv2.CAP_PROP_FRAME_COUNT))
fourcc = cv2.VideoWriter_fourcc(*"XVID")
output_movie = cv2.VideoWriter("output.avi", fourcc, 29.97, (640, 360))

lmm_face_encoding = face_recognition.face_encodings(face_recognition.load_image_file("lin-manuel-miranda.png"))[0]
al_face_encoding = face_recognition.face_encodings(face_recognition.load_image_file("alex-lacamoire.png"))[0]
known_faces = [lmm_face_encoding, al_face_encoding]

frame_number = 0
while max_frames is None or frame_number < max_frames:
    ret, frame = input_movie.read()
    frame_number += 1
    if not ret:
        break
    rgb_frame = frame[:, :, ::-1]  # OpenCV's BGR to RGB: a strided view, accepted as is

    face_locations = face_recognition.face_locations(rgb_frame)
    face_encodings = face_recognition.face_encodings(rgb_frame, face_locations)

    face_names = []
    for face_encoding in face_encodings:
        match = face_recognition.compare_faces(known_faces, face_encoding, tolerance=0.50)
        name = None
        if match[0]:
            name = "Lin-Manuel Miranda"
        elif match[1]:
            name = "Alex Lacamoire"
        face_names.append(name)

    for (top, right, bottom, left), name in zip(face_locations, face_names):
        if not name:
            continue
        cv2.rectangle(frame, (left, top), (right, bottom), (0, 0, 255), 2)
        cv2.rectangle(frame, (left, bottom - 25), (right, bottom), (0, 0, 255), cv2.FILLED)
        cv2.putText(frame, name, (left + 6, bottom - 6), cv2.FONT_HERSHEY_DUPLEX, 0.5, (255, 255, 255), 1)

    print("Writing frame {} / {}: {}".format(frame_number, length, ", ".join(n or "unknown" for n in face_names)))
    output_movie.write(frame)

input_movie.release()
output_movie.release()
