"""Is the face in an unknown photo one of two known people?
Written against face_recognition's API: only the import line is facenet-c's.
Usage (in a folder holding biden.jpg, obama.jpg and obama2.jpg): recognize_faces_in_pictures.py"""
import facenet_c.compat.face_recognition as face_recognition

biden_image = face_recognition.load_image_file("biden.jpg")
obama_image = face_recognition.load_image_file("obama.jpg")
unknown_image = face_recognition.load_image_file("obama2.jpg")

# one face per photo here, so the first encoding of each is the person
biden_face_encoding = face_recognition.face_encodings(biden_image)[0]
obama_face_encoding = face_recognition.face_encodings(obama_image)[0]
unknown_face_encoding = face_recognition.face_encodings(unknown_image)[0]

known_faces = [biden_face_encoding, obama_face_encoding]
results = face_recognition.compare_faces(known_faces, unknown_face_encoding)

print("Is the unknown face a picture of Biden? {}".format(results[0]))
print("Is the unknown face a picture of Obama? {}".format(results[1]))
print("Is the unknown face a new person that we've never seen before? {}".format(True not in results))
