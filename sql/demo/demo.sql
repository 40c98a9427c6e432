-- The demo federation of upstream Thalamus: three accounts with the demographic fields
-- of upstream's people.json (the FRL locator reads `dob` and `gender` of each), Ana
-- Betz's book with her birth and birth certificate, her picture at birth, one
-- domiciliary unit and one institution. Passwords are bcrypt cost-12 hashes as upstream's demo stores them
-- (ITAPYT999HON and ESPGNU777ORG: gnusolidario; ARGBUE111FAV: freedom).
-- Loading it twice changes nothing.
INSERT INTO people (id, data) VALUES
('ITAPYT999HON', '{"id": "ITAPYT999HON", "name": "Cameron", "lastname": "Cordara", "dob": "1984-10-05", "gender": "f", "biological_sex": "f", "ethnicity": "latino", "education": "tertiary", "marital_status": "married", "profession": "teacher", "active": true, "roles": ["end_user", "health_professional"], "password": "$2b$12$zQe5/6nwAlKAKamgdwZnduzPw/awnlV.dIKMhhXRarhI/csfjXONq"}'),
('ESPGNU777ORG', '{"id": "ESPGNU777ORG", "name": "Ana", "lastname": "Betz", "dob": "1985-10-04", "gender": "f", "biological_sex": "f", "ethnicity": "latino", "education": "tertiary", "marital_status": "married", "profession": "teacher", "active": true, "roles": ["end_user"], "password": "$2b$12$8hV2DCes/G7lTl2bQlEO.e4PHBCRUxE5qSNpFPzZOoXfbaSQnNt2u"}'),
('ARGBUE111FAV', '{"id": "ARGBUE111FAV", "name": "Admin", "lastname": "Root", "dob": "2008-10-12", "gender": "f", "biological_sex": "f", "ethnicity": "latino", "education": "tertiary", "marital_status": "married", "profession": "System Administrator", "active": true, "roles": ["root"], "password": "$2b$12$ACp2WU54FHNznKyUHJndq.4UJYcJdX0SqGe6m43EO3HBn8UnsfxQq"}')
ON CONFLICT (id) DO NOTHING;

INSERT INTO pols (id, book, data) VALUES
('5cc70e53-5378-427f-b3d2-84cab4da04a2', 'ESPGNU777ORG', '{"id": "5cc70e53-5378-427f-b3d2-84cab4da04a2", "book": "ESPGNU777ORG", "page_date": "1985-10-04T11:15:00", "page_type": "medical", "medical_context": "birth", "relevance": "important", "summary": "Single spontaneous delivery", "info": "Born at term, cephalic presentation, no complications", "health_condition_code": "O80", "health_condition_text": "Single spontaneous delivery", "node": "Milano General Hospital", "fed_account": "ESPGNU777ORG", "creation_info": {"user": "ITAPYT999HON", "timestamp": "1985-10-04T11:30:00", "node": "Milano General Hospital"}}'),
('2e38f53a-bd03-484b-badb-c5e0a07f0148', 'ESPGNU777ORG', '{"id": "2e38f53a-bd03-484b-badb-c5e0a07f0148", "book": "ESPGNU777ORG", "page_date": "1985-10-07T09:00:00", "page_type": "biographical", "relevance": "important", "summary": "Birth certificate", "info": "Birth registered at Milano City Hall", "node": "Milano City Hall", "fed_account": "ESPGNU777ORG", "creation_info": {"user": "ARGBUE111FAV", "timestamp": "1985-10-07T09:10:00", "node": "Milano City Hall"}}')
ON CONFLICT (id) DO NOTHING;

INSERT INTO personal_docs (id, fedacct, pol, document, data) VALUES
('5f626a20-5d86-488c-a1e2-844ccf399c72', 'ESPGNU777ORG', '5cc70e53-5378-427f-b3d2-84cab4da04a2',
 decode('ffd8ffe000104a46494600010100000100010000ffdb00840006040506050406060506070706080a100a0a09090a140e0f0c1017141818171416161a1d251f1a1b231c1616202c20232627292a29191f2d302d283025282928010707070a080a130a0a13281a161a2828282828282828282828282828282828282828282828282828282828282828282828282828282828282828282828282828ffc00011080020002003011100021101031101ffc401a20000010501010101010100000000000000000102030405060708090a0b100002010303020403050504040000017d01020300041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a636465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9fa0100030101010101010101010000000000000102030405060708090a0b1100020102040403040705040400010277000102031104052131061241510761711322328108144291a1b1c109233352f0156272d10a162434e125f11718191a262728292a35363738393a434445464748494a535455565758595a636465666768696a737475767778797a82838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9faffda000c03010002110311003f00f43b28b7628a8ac7b8a9f39ad6d1a765ce3bf6ae49a6613843a2b9a76c8bfdd523e9d2b9a716724e31ec695ba0eb818cf1fe715cd38b38e715abb7f5f77ea713683f76a3a67afd2be92a4753e87ec25dcd5b719fa7a1ed5cb281cd51dffad8d2b71923d7a73fe7f95734e071cf57fd7f5f24695b71cf20fad734e071cddb5febfafbfd4e26d47c89d7181f857d2ce3a9f40fe146a5b827ebec7fcfd2b9670396777fd7f5e869db8181902b9a7139276b5d9a56c085045734e071c9b4aebfafebfab9c45a8f95724e3d3f2ffebd7d34e1a9efbdb5feb6ff00826a4031d7391ebfe7fce6b9651396a69bff005fd7eacd3b7519008ae69c4e49d93b3febfafeb734ad9483d4800ff9ff003fe4f34e271c95afaff5fd7f5dff00ffd9', 'hex'),
 '{"document_type": "picture", "extension": "jpg", "context": "identification", "description": "Ana at birth", "hash": "52d019134750bba6ff5a4815e23ef937b77d80a290ab64ab6de44f3e1d5cab0755ca09661fbb105dde54c410ce8aaf9987b7698969979d04034b717667a390d5"}')
ON CONFLICT (id) DO NOTHING;

INSERT INTO dus (id, data) VALUES
('ESPGNUDU001', '{"id": "ESPGNUDU001", "name": "ESPGNUDU001", "address_street": "Via Larga", "address_street_number": "12", "address_city": "Milano", "address_country": "IT", "address_zip": "20122", "members": ["ESPGNU777ORG"]}')
ON CONFLICT (id) DO NOTHING;

INSERT INTO institutions (id, data) VALUES
('ITMIGH001', '{"id": "ITMIGH001", "name": "Milano General Hospital", "institution_type": "hospital", "public_level": "public", "address_city": "Milano", "address_country": "IT"}')
ON CONFLICT (id) DO NOTHING;
