// Local images to upload: the same names and weak labels as the CLI's
// --upload and the Python SDK (client/python/datapool_client/_images.py).
import * as fs from "node:fs";
import * as path from "node:path";
import { Code } from "@connectrpc/connect";
import { DatapoolError, invalidArgument } from "./errors.js";

export const IMAGE_EXTENSIONS = [".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"];

export function isImageFilename(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(name).toLowerCase());
}

/** An image to upload: its sample name on the server, where to read it,
 * its weak label. */
export interface LocalImage {
  filename: string;
  path: string;
  label: number;
}

function walk(root: string, rel: string, out: string[]): void {
  const dir = rel === "" ? root : path.join(root, ...rel.split("/"));
  for (const entry of fs.readdirSync(dir)) {
    const inside = rel === "" ? entry : `${rel}/${entry}`;
    const stat = fs.statSync(path.join(dir, entry)); // follows symlinks
    if (stat.isDirectory()) walk(root, inside, out);
    else if (isImageFilename(entry)) out.push(inside);
  }
}

// Python's sorted(): by code point, not by locale.
function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The images of the files and folders given. A file is sent under its
 * base name (label 0) and must have an image extension. A folder is walked
 * recursively (symlinks followed); its images, in sorted order, are named
 * "<folder name>/<path inside>" and labelled with the index of their
 * first-level subfolder (sorted; 0 for files directly in the folder). */
export function listLocalImages(paths: readonly string[]): LocalImage[] {
  const out: LocalImage[] = [];
  for (const given of paths) {
    const root = path.normalize(given);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(root);
    } catch {
      throw new DatapoolError(Code.NotFound, `no such file or folder: ${given}`);
    }
    if (!stat.isDirectory()) {
      const name = path.basename(root);
      if (!isImageFilename(name)) {
        throw invalidArgument(`${given} is not an image file (${IMAGE_EXTENSIONS.join(" ")})`);
      }
      out.push({ filename: name, path: root, label: 0 });
      continue;
    }
    const base = path.basename(root);
    const prefix = root === "." || base === ".." ? "" : path.basename(path.resolve(root));
    const files: string[] = [];
    let subfolders: string[];
    try {
      walk(root, "", files);
      subfolders = fs
        .readdirSync(root)
        .filter((e) => fs.statSync(path.join(root, e)).isDirectory());
    } catch (e) {
      throw invalidArgument(`cannot list ${given}: ${(e as Error).message}`);
    }
    files.sort(byCodePoint);
    subfolders.sort(byCodePoint);
    for (const inside of files) {
      const slash = inside.indexOf("/");
      const label = slash < 0 ? 0 : subfolders.indexOf(inside.slice(0, slash));
      out.push({
        filename: prefix ? `${prefix}/${inside}` : inside,
        path: path.join(root, ...inside.split("/")),
        label,
      });
    }
  }
  return out;
}

export function readImage(image: LocalImage): Uint8Array {
  try {
    return fs.readFileSync(image.path);
  } catch (e) {
    throw invalidArgument(`cannot read ${image.path}: ${(e as Error).message}`);
  }
}
