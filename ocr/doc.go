// Package ocr owns the image side of Provena's PP-OCR pipeline: rendering text
// lines into images (the project's own real-looking test inputs), loading
// PNG/JPEG files, the preprocessing that turns an image into the tensors the
// PP-OCRv4 detection and recognition models expect, CTC greedy decoding of
// the recognition output with the model's dictionary, and a simple DB
// postprocessing of the detection map into boxes.
//
// Everything here is deterministic: the same image gives the same tensor
// bits, and rendering uses a fixed-seed noise source, so that fixture inputs
// can be regenerated and shared byte-for-byte between Provena and the
// reference runtime.
//
// The preprocessing follows PaddleOCR's inference tools
// (PaddlePaddle/PaddleOCR tools/infer/predict_det.py and predict_rec.py):
// images are in BGR channel order as cv2.imread gives them, detection
// normalises x/255 with mean [0.485, 0.456, 0.406] and std [0.229, 0.224,
// 0.225] applied in that (BGR) channel order, recognition resizes to height
// 48 keeping the aspect ratio, normalises (x/255-0.5)/0.5 and right-pads with
// zeros to width 320.
package ocr
